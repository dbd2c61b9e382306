"""The station's web pages, served by the daemon itself (``[web]``).

``/station`` is the kiosk page for the screen beside the docks (:mod:`.app`); ``/review``,
the archivists' room, waits on the people registry and access requests (issue 12) and
answers 503 until then.  :mod:`.server` runs the app on uvicorn in a thread of the daemon.
"""
