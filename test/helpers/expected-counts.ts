export * from '../../scripts/lib/expected-counts.js';
