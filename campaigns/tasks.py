"""django-q2 entry points (bulk lane): they take ids and call a service."""

from __future__ import annotations


def contact_import_run(contact_import_id: int) -> None:
    from campaigns.services import contact_import_run as run

    run(contact_import_id=contact_import_id)
