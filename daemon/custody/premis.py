"""A recording's ledger history as PREMIS-style events (PREMIS 3 semantic units, JSON).

Each event keeps its ledger sequence number and hash, so an entry here can be found in the
bag's ledger proof and checked there; ``eventType`` uses the Library of Congress PREMIS
event-type vocabulary where one fits (ingestion, message digest calculation, fixity check,
replication, dissemination, ...) and says "linking" / "access" where none does.
"""

from __future__ import annotations

import json

#: ledger event kind -> (PREMIS eventType, outcome); kinds not listed are left out
_TYPES = {
    "media_seen": ("ingestion", "found on the device"),
    "attempt_started": ("ingestion", "copy started"),
    "attempt_failed": ("ingestion", "copy failed"),
    "attempt_interrupted": ("ingestion", "copy interrupted"),
    "media_stored": ("message digest calculation", "success"),
    "media_verified": ("fixity check", "success"),
    "fixity_checked": ("fixity check", None),
    "media_relocated": ("replication", "success"),
    "media_recovered_from_store": ("ingestion", "recovered from the store"),
    "retention_extended": ("policy assignment", "retention extended"),
    "legal_hold_requested": ("policy assignment", "legal hold requested"),
    "legal_hold_placed": ("policy assignment", "legal hold placed"),
    "legal_hold_released": ("policy assignment", "legal hold released"),
    "derivative_stored": ("creation", "review copy made"),
    "media_probed": ("metadata extraction", "success"),
    "media_sensitivity_set": ("policy assignment", "sensitivity set"),
    "case_linked": ("linking", "linked to the case"),
    "case_link_upgraded": ("linking", "link upgraded"),
    "case_unlinked": ("linking", "unlinked from the case"),
    "access_viewed": ("access", "viewed"),
    "case_exported": ("dissemination", "exported"),
}


def premis_events(media, events) -> dict:
    """``{"object": ..., "events": [...]}`` for one recording and its ledger events."""
    out = []
    for ev in events:
        kind = _TYPES.get(ev.kind)
        if kind is None:
            continue
        data = json.loads(ev.data)
        outcome = kind[1]
        if ev.kind == "fixity_checked":
            outcome = "success" if data.get("ok") else f"failure: {data.get('detail')}"
        agent = data.get("by") or data.get("person") or data.get("station") or ev.station
        out.append({
            "eventIdentifier": {"eventIdentifierType": "evidock ledger seq",
                                "eventIdentifierValue": str(ev.seq)},
            "eventType": kind[0], "eventDateTime": ev.at, "eventOutcome": outcome,
            "eventDetail": ev.kind, "eventDetailExtension": data,
            "linkingAgentIdentifier": {"linkingAgentIdentifierType": "evidock person or "
                                       "station", "linkingAgentIdentifierValue": agent},
            "ledgerHash": ev.hash,
        })
    return {
        "object": {"objectIdentifier": {"objectIdentifierType": "sha256",
                                        "objectIdentifierValue": media.sha256},
                   "objectCharacteristics": {
                       "size": media.size,
                       "fixity": [{"messageDigestAlgorithm": "SHA-256",
                                   "messageDigest": media.sha256},
                                  {"messageDigestAlgorithm": "BLAKE3",
                                   "messageDigest": media.blake3}]},
                   "originalName": media.source_path, "evidockMediaId": media.id},
        "events": out,
    }
