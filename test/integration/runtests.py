"""Runs the integration suite and ends with one line: "N passed, N failed[, N skipped]".

Usage (from anywhere): /usr/bin/python3 test/integration/runtests.py [-q] [--dir DIR] [test names...]
Test names are unittest names, e.g. test_idp_harness.IdpHarnessTest.test_metadata_...
--dir: discover test_*.py there instead (test/browser uses this harness too).
Exit status: 0 when something ran and nothing failed, 1 otherwise.
"""
import faulthandler
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


class CountingResult(unittest.TextTestResult):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.passed = 0

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.passed += 1


def main(argv):
    quiet = "-q" in argv
    argv = [a for a in argv if a != "-q"]
    top = HERE
    if "--dir" in argv:
        at = argv.index("--dir")
        top = os.path.abspath(argv[at + 1])
        del argv[at:at + 2]
        sys.path.insert(0, top)
    names = argv
    sys.path.insert(0, HERE)
    # A hung server must not hang CI: dump every thread's stack and exit after the limit.
    faulthandler.dump_traceback_later(int(os.environ.get("SAML_TEST_TIMEOUT", "900")), exit=True)
    loader = unittest.TestLoader()
    if names:
        suite = loader.loadTestsFromNames(names)
    else:
        suite = loader.discover(top, pattern="test_*.py", top_level_dir=top)
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=1 if quiet else 2,
                                     resultclass=CountingResult)
    result = runner.run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    line = "%d passed, %d failed" % (result.passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    sys.stdout.flush()
    return 0 if failed == 0 and result.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
