// The project runs on Node.js 24 (scripts/nodejs). A run on the machine's older node would test what CI and the
// language host never run: refuse it with the fix rather than pass or fail for the wrong reason.
const nodeMajor = Number(process.versions.node.split('.')[0]);
if (nodeMajor < 24) {
  throw new Error(
    `jest runs on Node.js ${process.version}; the project needs Node.js 24: run \`scripts/nodejs\` once and ` +
      '`source scripts/env.sh` (or use `npm test` / `npm run test:unit`, which run on it)',
  );
}

/** @type {import('jest').Config} */
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.json' }];
// @kubernetes/client-node 1.x and the packages of it that are ES modules only: jest 29 runs CommonJS, so they are
// turned into CommonJS for the tests (Node.js 24 itself loads them with require; release/kubelib.ts).
const esmOnly = ['@kubernetes/client-node', 'openid-client', 'oauth4webapi', 'jose'];
const transform = {
  '^.+\\.ts$': tsJest,
  [`/node_modules/(${esmOnly.join('|')})/.+\\.js$`]: '<rootDir>/test/support/esmToCjs.js',
};
const transformIgnorePatterns = [`/node_modules/(?!(${esmOnly.join('|')})/)`];
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
      transform,
      transformIgnorePatterns,
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
      transform,
      transformIgnorePatterns,
      testMatch: ['<rootDir>/test/integration/**/*.int.test.ts'],
      globalSetup: '<rootDir>/test/integration/globalSetup.ts',
      globalTeardown: '<rootDir>/test/integration/globalTeardown.ts',
    },
  ],
  testTimeout: 40 * 60 * 1000,
  // Every run ends with a table of each test file's time, slowest first (test/support/timingReporter.js): the CI
  // log shows where its minutes go (issue 15).
  reporters: ['default', '<rootDir>/test/support/timingReporter.js'],
};
