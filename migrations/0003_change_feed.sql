DROP INDEX "incidents_updated_idx";--> statement-breakpoint
ALTER TABLE "incidents" ADD COLUMN "change_xid" bigint DEFAULT pg_current_xact_id()::text::bigint NOT NULL;--> statement-breakpoint
CREATE INDEX "incidents_change_feed_idx" ON "incidents" USING btree ("city_id","change_xid","id");