// Message and service types of CSI (package csi.v1). `X` is what a sender may pass; `X__Output` is what a
// receiver gets (defaults filled in).
export type { CapacityRange, CapacityRange__Output } from './generated/types/csi/v1/CapacityRange.js';
export type { ControllerClient, ControllerHandlers } from './generated/types/csi/v1/Controller.js';
export type {
  ControllerGetCapabilitiesRequest,
  ControllerGetCapabilitiesRequest__Output,
} from './generated/types/csi/v1/ControllerGetCapabilitiesRequest.js';
export type {
  ControllerGetCapabilitiesResponse,
  ControllerGetCapabilitiesResponse__Output,
} from './generated/types/csi/v1/ControllerGetCapabilitiesResponse.js';
export type {
  ControllerServiceCapability,
  ControllerServiceCapability__Output,
} from './generated/types/csi/v1/ControllerServiceCapability.js';
export type {
  GetPluginCapabilitiesRequest,
  GetPluginCapabilitiesRequest__Output,
} from './generated/types/csi/v1/GetPluginCapabilitiesRequest.js';
export type {
  GetPluginCapabilitiesResponse,
  GetPluginCapabilitiesResponse__Output,
} from './generated/types/csi/v1/GetPluginCapabilitiesResponse.js';
export type {
  GetPluginInfoRequest,
  GetPluginInfoRequest__Output,
} from './generated/types/csi/v1/GetPluginInfoRequest.js';
export type {
  GetPluginInfoResponse,
  GetPluginInfoResponse__Output,
} from './generated/types/csi/v1/GetPluginInfoResponse.js';
export type { IdentityClient, IdentityHandlers } from './generated/types/csi/v1/Identity.js';
export type { NodeClient, NodeHandlers } from './generated/types/csi/v1/Node.js';
export type {
  NodeExpandVolumeRequest,
  NodeExpandVolumeRequest__Output,
} from './generated/types/csi/v1/NodeExpandVolumeRequest.js';
export type {
  NodeExpandVolumeResponse,
  NodeExpandVolumeResponse__Output,
} from './generated/types/csi/v1/NodeExpandVolumeResponse.js';
export type {
  NodeGetCapabilitiesRequest,
  NodeGetCapabilitiesRequest__Output,
} from './generated/types/csi/v1/NodeGetCapabilitiesRequest.js';
export type {
  NodeGetCapabilitiesResponse,
  NodeGetCapabilitiesResponse__Output,
} from './generated/types/csi/v1/NodeGetCapabilitiesResponse.js';
export type {
  NodeGetInfoRequest,
  NodeGetInfoRequest__Output,
} from './generated/types/csi/v1/NodeGetInfoRequest.js';
export type {
  NodeGetInfoResponse,
  NodeGetInfoResponse__Output,
} from './generated/types/csi/v1/NodeGetInfoResponse.js';
export type {
  NodeGetVolumeStatsRequest,
  NodeGetVolumeStatsRequest__Output,
} from './generated/types/csi/v1/NodeGetVolumeStatsRequest.js';
export type {
  NodeGetVolumeStatsResponse,
  NodeGetVolumeStatsResponse__Output,
} from './generated/types/csi/v1/NodeGetVolumeStatsResponse.js';
export type {
  NodePublishVolumeRequest,
  NodePublishVolumeRequest__Output,
} from './generated/types/csi/v1/NodePublishVolumeRequest.js';
export type {
  NodePublishVolumeResponse,
  NodePublishVolumeResponse__Output,
} from './generated/types/csi/v1/NodePublishVolumeResponse.js';
export type {
  NodeServiceCapability,
  NodeServiceCapability__Output,
} from './generated/types/csi/v1/NodeServiceCapability.js';
export type {
  NodeStageVolumeRequest,
  NodeStageVolumeRequest__Output,
} from './generated/types/csi/v1/NodeStageVolumeRequest.js';
export type {
  NodeStageVolumeResponse,
  NodeStageVolumeResponse__Output,
} from './generated/types/csi/v1/NodeStageVolumeResponse.js';
export type {
  NodeUnpublishVolumeRequest,
  NodeUnpublishVolumeRequest__Output,
} from './generated/types/csi/v1/NodeUnpublishVolumeRequest.js';
export type {
  NodeUnpublishVolumeResponse,
  NodeUnpublishVolumeResponse__Output,
} from './generated/types/csi/v1/NodeUnpublishVolumeResponse.js';
export type {
  NodeUnstageVolumeRequest,
  NodeUnstageVolumeRequest__Output,
} from './generated/types/csi/v1/NodeUnstageVolumeRequest.js';
export type {
  NodeUnstageVolumeResponse,
  NodeUnstageVolumeResponse__Output,
} from './generated/types/csi/v1/NodeUnstageVolumeResponse.js';
export type {
  PluginCapability,
  PluginCapability__Output,
} from './generated/types/csi/v1/PluginCapability.js';
export type { ProbeRequest, ProbeRequest__Output } from './generated/types/csi/v1/ProbeRequest.js';
export type { ProbeResponse, ProbeResponse__Output } from './generated/types/csi/v1/ProbeResponse.js';
export type { Topology, Topology__Output } from './generated/types/csi/v1/Topology.js';
export type {
  VolumeCapability,
  VolumeCapability__Output,
} from './generated/types/csi/v1/VolumeCapability.js';
export type { VolumeCondition, VolumeCondition__Output } from './generated/types/csi/v1/VolumeCondition.js';
export type { VolumeUsage, VolumeUsage__Output } from './generated/types/csi/v1/VolumeUsage.js';
