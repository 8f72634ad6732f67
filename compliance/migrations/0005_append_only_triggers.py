"""The audit log and consent records are append-only in the database too, not only in the
code: a BEFORE UPDATE OR DELETE trigger refuses any change except the foreign keys Django
nulls when the referenced row goes (a deleted user: actor / recorded_by; a deleted consent
import: import_job). TRUNCATE (test flushes) is not a row event and is unaffected."""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION compliance_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_row jsonb := to_jsonb(OLD);
    new_row jsonb := to_jsonb(NEW);
    col text;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        -- Columns named in the trigger's arguments may only be set to NULL (ON DELETE SET NULL).
        FOREACH col IN ARRAY TG_ARGV LOOP
            IF new_row -> col = 'null'::jsonb OR new_row -> col IS NOT DISTINCT FROM old_row -> col THEN
                old_row := old_row - col;
                new_row := new_row - col;
            END IF;
        END LOOP;
        IF old_row = new_row THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'object_not_in_prerequisite_state';
END
$$;
"""

TRIGGERS = """
CREATE TRIGGER compliance_auditevent_append_only BEFORE UPDATE OR DELETE ON compliance_auditevent
    FOR EACH ROW EXECUTE FUNCTION compliance_append_only('actor_id');
CREATE TRIGGER compliance_consentrecord_append_only BEFORE UPDATE OR DELETE ON compliance_consentrecord
    FOR EACH ROW EXECUTE FUNCTION compliance_append_only('recorded_by_id', 'import_job_id');
"""

REVERSE = """
DROP TRIGGER IF EXISTS compliance_auditevent_append_only ON compliance_auditevent;
DROP TRIGGER IF EXISTS compliance_consentrecord_append_only ON compliance_consentrecord;
DROP FUNCTION IF EXISTS compliance_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("compliance", "0004_complaint_overdue_notices")]

    operations = [migrations.RunSQL(FUNCTION + TRIGGERS, REVERSE)]
