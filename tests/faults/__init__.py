"""The fault matrix of issue 8: the real daemon as a process, real files, a small real file
system for "disk full", the real S3 server (SeaweedFS) and real docks (tools/dock-sim).

Every case ends with :func:`tests.faults.invariants.assert_nothing_lost`: 0 recordings lost,
0 duplicated, 0 altered, nothing half-written left, and ``evidock ledger verify`` exits 0.

=====================================  ===================================================
fault                                  file
=====================================  ===================================================
kill -9 at each stage (local store)    test_kill9.py
kill -9 at each stage (S3)             test_kill9_s3.py
store, ledger, data directory full     test_disk_full.py
S3 down, slow, refusing the keys       test_s3_faults.py
camera yanked mid-file                 test_yank.py
ledger error in the failure path       test_ledger_failure_path.py
non-UTF-8 folder and file names        test_odd_names.py
two data directories on one store      test_shared_store.py
=====================================  ===================================================

Every case asserts the same invariants (``invariants.py``): nothing lost, nothing stored
twice, nothing altered, a ledger that verifies.
"""
