-- The prevention plan is in the change feed like every other resource (see 0004): each update moves a row up.
CREATE TRIGGER action_plans_stamp_change_xid BEFORE UPDATE ON action_plans FOR EACH ROW EXECUTE FUNCTION stamp_change_xid();
--> statement-breakpoint
CREATE TRIGGER goals_stamp_change_xid BEFORE UPDATE ON goals FOR EACH ROW EXECUTE FUNCTION stamp_change_xid();
--> statement-breakpoint
CREATE TRIGGER objectives_stamp_change_xid BEFORE UPDATE ON objectives FOR EACH ROW EXECUTE FUNCTION stamp_change_xid();
--> statement-breakpoint
CREATE TRIGGER actions_stamp_change_xid BEFORE UPDATE ON actions FOR EACH ROW EXECUTE FUNCTION stamp_change_xid();
