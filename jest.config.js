// One jest run, four suites: the layer a test exercises is its folder.
// unit: rules on the fake driver; integration: HTTP on a real SQLite; docker: a real engine;
// e2e: the Debian OpenStack clients against a started server; resilience: crashes, engine restarts,
// hostile input on a real engine; cluster: two real processes over one database (issue 16).
const base = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { isolatedModules: true }] },
};
module.exports = {
  // A guard against hangs, not a performance bound: jest's 5 s default fails set-up hooks that boot
  // servers on the fake engine when two cores are shared with an engine and other suites. A global
  // option: inside a project jest ignores it ("Unknown option testTimeout") and used 5 s.
  testTimeout: 30_000,
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...base, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts'] },
    { ...base, displayName: 'docker', testMatch: ['<rootDir>/test/docker/**/*.test.ts'] },
    { ...base, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.test.ts'] },
    // Restarts the Docker engine and kill -9s servers: scripts/test.sh runs it alone, serially, last.
    { ...base, displayName: 'resilience', testMatch: ['<rootDir>/test/resilience/**/*.test.ts'] },
    // Kill -9s processes and watches one compute host's engine events: run serially (--runInBand).
    { ...base, displayName: 'cluster', testMatch: ['<rootDir>/test/cluster/**/*.test.ts'] },
    // Several compute hosts: Docker engines in network namespaces of their own (scripts/engines.sh),
    // started once by scripts/test.sh and run serially (issue 13).
    { ...base, displayName: 'multihost', testMatch: ['<rootDir>/test/multihost/**/*.test.ts'] },
    // Debian's Horizon against a started novadock, walked in Debian's Chromium (issue 18).
    { ...base, displayName: 'dashboard', testMatch: ['<rootDir>/test/dashboard/**/*.test.ts'] },
  ],
};
