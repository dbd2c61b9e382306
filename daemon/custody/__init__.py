"""Custody (R8, R9): who uses the station, what they may see, and every access in the chain.

The Python API a command or a web layer calls (all writes are chained ledger events):

- :mod:`.people`: :class:`~.people.People` registers people (``register``) and says who a
  request runs as (``resolve(ref)``, ``resolve(None)`` for the OS login); ``enforced()`` is
  False only on a station where nobody is registered yet.  :class:`~.people.Directory` is
  the seam for an LDAP directory.
- :mod:`.access`: :class:`~.access.Custody` is the check: ``visible`` (a listing, hidden
  recordings only counted), ``find`` (a lookup; refused looks like not found),
  ``require_media`` / ``require_role``, ``request`` / ``decide`` (R8: an approver, never for
  their own request, with expiry), ``authorize`` (a view or export under an approved
  request, in scope, in clearance) and ``record_use``.  Every refusal is logged first.
- :mod:`.bag` / :mod:`.bagcheck`: case exports as BagIt bags with a ledger proof, and their
  verification.
- :mod:`.tsa`: RFC 3161 time stamps of the chain head.
- :mod:`.report`: the access figures (``report access``, the annual report).
"""
