"""The station's web pages, served by the daemon itself (``[web]``).

``/station`` is the kiosk page for the screen beside the docks (:mod:`.app`); ``/review``
is the archivists' room (:mod:`.review`, logins and sessions in :mod:`.auth`), where every
view of footage goes through the custody check of the CLI.  :mod:`.server` runs the app on
uvicorn in a thread of the daemon.
"""
