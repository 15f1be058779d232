export * from './containerd.js';
export * from './image.js';
export * from './kubelet-node.js';
export * from './mounts.js';
export * from './plugin-registrar.js';
