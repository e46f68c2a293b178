ALTER TABLE "audit_events" DROP CONSTRAINT "audit_events_city_id_cities_id_fk";
--> statement-breakpoint
ALTER TABLE "audit_events" DROP CONSTRAINT "audit_events_city_id_actor_key_id_api_keys_city_id_id_fk";
