-- Every resource of the change feed moves a row up the feed on each update (see 0004).
CREATE TRIGGER stakeholders_stamp_change_xid BEFORE UPDATE ON stakeholders FOR EACH ROW EXECUTE FUNCTION stamp_change_xid();
--> statement-breakpoint
CREATE TRIGGER stakeholder_relationships_stamp_change_xid BEFORE UPDATE ON stakeholder_relationships FOR EACH ROW EXECUTE FUNCTION stamp_change_xid();
--> statement-breakpoint
CREATE TRIGGER meetings_stamp_change_xid BEFORE UPDATE ON meetings FOR EACH ROW EXECUTE FUNCTION stamp_change_xid();
--> statement-breakpoint
CREATE TRIGGER programs_stamp_change_xid BEFORE UPDATE ON programs FOR EACH ROW EXECUTE FUNCTION stamp_change_xid();
--> statement-breakpoint
-- A stakeholder's engagement, leadership-group membership and activity are kept with the day they changed (in
-- the city's timezone), so that figures of a past period are computed from what was true at its end. A trigger
-- records them, so that imports and PATCH alike cannot forget to.
CREATE FUNCTION record_stakeholder_history() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.engagement_level IS NOT DISTINCT FROM OLD.engagement_level
     AND NEW.leadership_role IS NOT DISTINCT FROM OLD.leadership_role
     AND NEW.leadership_joined_on IS NOT DISTINCT FROM OLD.leadership_joined_on
     AND NEW.leadership_left_on IS NOT DISTINCT FROM OLD.leadership_left_on
     AND NEW.active IS NOT DISTINCT FROM OLD.active THEN
    RETURN NULL;
  END IF;
  INSERT INTO stakeholder_history (city_id, stakeholder_id, recorded_on, engagement_level, leadership_role, leadership_joined_on, leadership_left_on, active)
  SELECT NEW.city_id, NEW.id, (now() AT TIME ZONE c.timezone)::date, NEW.engagement_level, NEW.leadership_role,
         NEW.leadership_joined_on, NEW.leadership_left_on, NEW.active
  FROM cities c WHERE c.id = NEW.city_id;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER stakeholders_record_history AFTER INSERT OR UPDATE ON stakeholders
  FOR EACH ROW EXECUTE FUNCTION record_stakeholder_history();
