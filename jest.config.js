/** @type {import('jest').Config} */
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.json' }];
// Local state (the cluster's etcd, the Pulumi backend and plugins) is not part of the test tree: etcd's *.snap
// files would otherwise be taken for obsolete jest snapshots.
const ignored = [
  '<rootDir>/.local/',
  '<rootDir>/.pulumi-state/',
  '<rootDir>/.pulumi-home/',
  '<rootDir>/node_modules/',
];

module.exports = {
  projects: [
    {
      // Fast tests: Pulumi mocks, pure functions, and the real checkers (promtool, amtool, Alertmanager,
      // checkov, kube-score, actionlint, ...) on generated files. No cluster.
      displayName: 'unit',
      testEnvironment: 'node',
      // The program's cluster check reads a kubeconfig: the unit tests' one names the local cluster only.
      setupFiles: ['<rootDir>/test/support/unitEnv.ts'],
      modulePathIgnorePatterns: ignored,
      testPathIgnorePatterns: ignored,
      transform: { '^.+\\.ts$': tsJest },
      testMatch: [
        '<rootDir>/test/unit/**/*.test.ts',
        '<rootDir>/test/fuzz/**/*.test.ts',
        '<rootDir>/policy/**/*.test.ts',
      ],
    },
    {
      // The real Pulumi engine against the local Kubernetes control plane (kwok on loopback). globalSetup builds or
      // reuses the toolchain and starts the cluster if it is not running; globalTeardown stops it if it started it.
      // The files share one cluster: npm test runs this project with --runInBand.
      displayName: 'integration',
      testEnvironment: 'node',
      modulePathIgnorePatterns: ignored,
      testPathIgnorePatterns: ignored,
      transform: { '^.+\\.ts$': tsJest },
      testMatch: ['<rootDir>/test/integration/**/*.int.test.ts'],
      globalSetup: '<rootDir>/test/integration/globalSetup.ts',
      globalTeardown: '<rootDir>/test/integration/globalTeardown.ts',
    },
  ],
  testTimeout: 40 * 60 * 1000,
};
