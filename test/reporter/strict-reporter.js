/**
 * A jest reporter that makes skipped and todo tests fail the run, and closes with the one plain
 * line CI reads: `tests: N passed, N failed` (`, N skipped` when any were), alone on a line.
 *
 * A skipped test is not a pass: `it.skip`, `describe.skip`, `it.todo`, and tests left out by a
 * focused `it.only` all count as skipped here, and getLastError() turns them into a failed run
 * (jest exits 1 when any reporter reports an error). Suites that failed to run at all (a compile
 * error, a throw at load time) count as one failure each, since they ran no test.
 *
 * Plain CommonJS: jest loads reporters with require(), without ts-jest's transform.
 */
class StrictReporter {
  constructor() {
    this.error = undefined;
  }

  onRunComplete(_contexts, results) {
    const skipped = [];
    for (const suite of results.testResults) {
      for (const t of suite.testResults ?? []) {
        if (t.status === 'pending' || t.status === 'skipped' || t.status === 'todo' || t.status === 'disabled') {
          skipped.push(`${suite.testFilePath}: ${t.fullName} (${t.status})`);
        }
      }
    }
    const passed = results.numPassedTests;
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const out = [];
    if (skipped.length > 0) {
      out.push('', `A skipped test is not a pass. ${skipped.length} test(s) did not run:`, ...skipped.map((s) => `  - ${s}`));
      this.error = new Error(`${skipped.length} test(s) were skipped or todo`);
    }
    if (results.numRuntimeErrorTestSuites > 0) {
      out.push('', `${results.numRuntimeErrorTestSuites} test file(s) failed to run (counted as failures).`);
    }
    out.push('', `tests: ${passed} passed, ${failed} failed${skipped.length ? `, ${skipped.length} skipped` : ''}`);
    process.stdout.write(`${out.join('\n')}\n`);
    // scripts/test.sh adds these to the conformance run's counts for the run's own closing line.
    if (process.env.NOVADOCK_TEST_SUMMARY) {
      require('node:fs').writeFileSync(process.env.NOVADOCK_TEST_SUMMARY, JSON.stringify({ passed, failed, skipped: skipped.length }));
    }
  }

  getLastError() {
    return this.error;
  }
}

module.exports = StrictReporter;
