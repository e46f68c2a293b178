-- The change feed orders rows by the transaction that last wrote them. Inserts take it from the column's
-- default; every update takes it here, so that no write path can forget to move a row up the feed.
CREATE FUNCTION stamp_change_xid() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.change_xid := pg_current_xact_id()::text::bigint;
  RETURN NEW;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER incidents_stamp_change_xid
  BEFORE UPDATE ON incidents
  FOR EACH ROW EXECUTE FUNCTION stamp_change_xid();
