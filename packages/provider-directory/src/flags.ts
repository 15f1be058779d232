/**
 * The directory provider's own flag, next to the SDK's standard ones; exported so the chart tests parse the
 * arguments the chart renders with the same specs as the process.
 */
export const directoryProviderFlags = {
  'root-dir': {
    type: 'string',
    default: '',
    usage:
      'the directory whose files the provider serves (required; every pod on the node can read all of it)',
  },
} as const;
