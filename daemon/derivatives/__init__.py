"""Derivatives: review copies made from a handed-over recording's stored copy (never the
device, never instead of the original).  commands.py builds the ffmpeg argument lists,
runner.py runs one, queue.py works the ledger's derivative queue."""
