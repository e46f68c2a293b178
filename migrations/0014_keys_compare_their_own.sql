DROP INDEX "survey_responses_external_id_idx";--> statement-breakpoint
ALTER TABLE "survey_responses" ADD COLUMN "entered_by_key_id" uuid;--> statement-breakpoint
-- A stored response belongs to the key that entered it, as its audit event records.
UPDATE "survey_responses" r SET "entered_by_key_id" = a."actor_key_id"
  FROM "audit_events" a
  WHERE a."city_id" = r."city_id" AND a."object_type" = 'survey_response' AND a."action" = 'survey_response.created' AND a."object_id" = r."id"::text;--> statement-breakpoint
CREATE UNIQUE INDEX "survey_responses_key_external_id_idx" ON "survey_responses" USING btree ("city_id","survey_id","entered_by_key_id","external_id");--> statement-breakpoint
-- The case is the city's case workers': a key that writes and reads every source's incidents keeps running
-- it; every other key (a partner's, limited to its sources, or a write-only importer) no longer does.
UPDATE "api_keys" SET "scopes" = array_append("scopes", 'incidents:case')
  WHERE 'incidents:write' = ANY("scopes") AND 'incidents:read' = ANY("scopes") AND "sources" IS NULL AND NOT 'incidents:case' = ANY("scopes");
