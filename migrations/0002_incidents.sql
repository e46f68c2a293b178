CREATE TABLE "incidents" (
	"city_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"source" varchar(64) NOT NULL,
	"external_id" varchar(200),
	"incident_type" varchar(16) NOT NULL,
	"bias_motivations" text[] NOT NULL,
	"bias_categories" text[] NOT NULL,
	"offense_types" text[] DEFAULT '{}'::text[] NOT NULL,
	"taxonomy_version" varchar(32) NOT NULL,
	"occurred_on" date NOT NULL,
	"occurred_at" timestamp with time zone,
	"reported_at" timestamp with time zone NOT NULL,
	"language" varchar(35),
	"location_type" varchar(3),
	"neighborhood" varchar(200),
	"census_tract" varchar(20),
	"coarse_latitude" numeric(4, 2),
	"coarse_longitude" numeric(5, 2),
	"is_online" boolean DEFAULT false NOT NULL,
	"platform" varchar(100),
	"summary" text,
	"victim_count" integer,
	"victim_type" varchar(32),
	"contact_ok" boolean DEFAULT false NOT NULL,
	"share_with_law_enforcement" boolean DEFAULT false NOT NULL,
	"include_in_statistics" boolean DEFAULT true NOT NULL,
	"status" varchar(16) DEFAULT 'received' NOT NULL,
	"resolution" varchar(16),
	"duplicate_of" uuid,
	"referrals" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"personal_data" "bytea",
	"data_key" "bytea",
	"personal_data_erased_at" timestamp with time zone,
	"content_hash" char(64) NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "incidents_city_id_id_pk" PRIMARY KEY("city_id","id"),
	CONSTRAINT "incidents_type_check" CHECK ("incidents"."incident_type" IN ('hate_crime', 'bias_incident', 'undetermined')),
	CONSTRAINT "incidents_status_check" CHECK ("incidents"."status" IN ('received', 'under_review', 'verified', 'unfounded', 'duplicate', 'referred', 'closed')),
	CONSTRAINT "incidents_resolution_check" CHECK ("incidents"."resolution" IN ('verified', 'unfounded', 'duplicate')),
	CONSTRAINT "incidents_duplicate_check" CHECK (("incidents"."resolution" IS NOT DISTINCT FROM 'duplicate') = ("incidents"."duplicate_of" IS NOT NULL) AND "incidents"."duplicate_of" IS DISTINCT FROM "incidents"."id"),
	CONSTRAINT "incidents_personal_data_check" CHECK (("incidents"."personal_data" IS NULL) = ("incidents"."data_key" IS NULL))
);
--> statement-breakpoint
ALTER TABLE "incidents" ADD CONSTRAINT "incidents_city_id_cities_id_fk" FOREIGN KEY ("city_id") REFERENCES "public"."cities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "incidents" ADD CONSTRAINT "incidents_city_id_duplicate_of_incidents_city_id_id_fk" FOREIGN KEY ("city_id","duplicate_of") REFERENCES "public"."incidents"("city_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "incidents_source_external_id_idx" ON "incidents" USING btree ("city_id","source","external_id");--> statement-breakpoint
CREATE INDEX "incidents_occurred_idx" ON "incidents" USING btree ("city_id","occurred_on" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "incidents_updated_idx" ON "incidents" USING btree ("city_id","updated_at","id");--> statement-breakpoint
CREATE INDEX "incidents_status_idx" ON "incidents" USING btree ("city_id","status","occurred_on" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "incidents_neighborhood_idx" ON "incidents" USING btree ("city_id","neighborhood","occurred_on" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "incidents_bias_motivations_idx" ON "incidents" USING gin ("bias_motivations");--> statement-breakpoint
CREATE INDEX "incidents_bias_categories_idx" ON "incidents" USING gin ("bias_categories");--> statement-breakpoint
CREATE VIEW "public"."incident_statistics" AS (select "city_id", "id", "source", "incident_type", "bias_motivations", "bias_categories", "offense_types", "occurred_on", "location_type", "neighborhood", "census_tract", "coarse_latitude", "coarse_longitude", "is_online", "platform", "victim_count", "victim_type", "status", "resolution" from "incidents" where "incidents"."include_in_statistics" AND "incidents"."resolution" IS DISTINCT FROM 'duplicate' AND "incidents"."resolution" IS DISTINCT FROM 'unfounded');