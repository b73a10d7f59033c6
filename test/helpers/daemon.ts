export * from '../../scripts/lib/daemon-process.js';
