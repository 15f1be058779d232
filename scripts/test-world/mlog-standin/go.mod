// TEST INFRASTRUCTURE ONLY. A logging-only stand-in for monis.app/mlog, which
// the Go module proxy reachable from this project does not serve. Upstream's
// secrets-store-csi-driver v1.6.0 imports it only to set up klog and to log
// fatal errors; scripts/test-world/upstream-csi-driver/go.mod replaces it with
// this directory so the unchanged upstream driver can be built for the
// interop suite. Never used by product code.
module monis.app/mlog

go 1.22

require k8s.io/klog/v2 v2.120.1
