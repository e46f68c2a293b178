-- Survey definitions are in the change feed like every other resource (see 0004).
CREATE TRIGGER surveys_stamp_change_xid BEFORE UPDATE ON surveys FOR EACH ROW EXECUTE FUNCTION stamp_change_xid();
