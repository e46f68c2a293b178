CREATE TABLE "incident_referrals" (
	"city_id" uuid NOT NULL,
	"incident_id" uuid NOT NULL,
	"position" smallint NOT NULL,
	"program_id" uuid,
	"stakeholder_id" uuid,
	"referred_on" date NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "incident_referrals_city_id_incident_id_position_pk" PRIMARY KEY("city_id","incident_id","position"),
	CONSTRAINT "incident_referrals_target_check" CHECK (("incident_referrals"."program_id" IS NULL) <> ("incident_referrals"."stakeholder_id" IS NULL))
);
--> statement-breakpoint
CREATE TABLE "meeting_attendees" (
	"city_id" uuid NOT NULL,
	"meeting_id" uuid NOT NULL,
	"stakeholder_id" uuid NOT NULL,
	CONSTRAINT "meeting_attendees_city_id_meeting_id_stakeholder_id_pk" PRIMARY KEY("city_id","meeting_id","stakeholder_id")
);
--> statement-breakpoint
CREATE TABLE "meetings" (
	"city_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"external_id" varchar(200),
	"held_on" date NOT NULL,
	"title" varchar(300) NOT NULL,
	"kind" varchar(24) NOT NULL,
	"topics" text[] DEFAULT '{}'::text[] NOT NULL,
	"notes" text,
	"content_hash" char(64) NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"change_xid" bigint DEFAULT pg_current_xact_id()::text::bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "meetings_city_id_id_pk" PRIMARY KEY("city_id","id"),
	CONSTRAINT "meetings_kind_check" CHECK (kind IN ('leadership_group', 'workshop', 'training', 'community_dialogue', 'briefing'))
);
--> statement-breakpoint
CREATE TABLE "programs" (
	"city_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"external_id" varchar(200),
	"name" varchar(200) NOT NULL,
	"description" text,
	"provider_id" uuid,
	"service_types" text[] DEFAULT '{}'::text[] NOT NULL,
	"languages" text[] DEFAULT '{}'::text[] NOT NULL,
	"neighborhoods" text[] DEFAULT '{}'::text[] NOT NULL,
	"eligibility" text,
	"public_email" varchar(254),
	"public_phone" varchar(40),
	"url" varchar(2000),
	"active" boolean DEFAULT true NOT NULL,
	"content_hash" char(64) NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"change_xid" bigint DEFAULT pg_current_xact_id()::text::bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "programs_city_id_id_pk" PRIMARY KEY("city_id","id")
);
--> statement-breakpoint
CREATE TABLE "stakeholder_history" (
	"city_id" uuid NOT NULL,
	"stakeholder_id" uuid NOT NULL,
	"recorded_on" date NOT NULL,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sequence" integer GENERATED ALWAYS AS IDENTITY (sequence name "stakeholder_history_sequence_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"engagement_level" varchar(16) NOT NULL,
	"leadership_role" varchar(16),
	"leadership_joined_on" date,
	"leadership_left_on" date,
	"active" boolean NOT NULL,
	CONSTRAINT "stakeholder_history_city_id_stakeholder_id_sequence_pk" PRIMARY KEY("city_id","stakeholder_id","sequence")
);
--> statement-breakpoint
CREATE TABLE "stakeholder_relationships" (
	"city_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"external_id" varchar(200),
	"from_id" uuid NOT NULL,
	"to_id" uuid NOT NULL,
	"type" varchar(16) NOT NULL,
	"strength" smallint DEFAULT 3 NOT NULL,
	"since" date,
	"until" date,
	"notes" text,
	"content_hash" char(64) NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"change_xid" bigint DEFAULT pg_current_xact_id()::text::bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "stakeholder_relationships_city_id_id_pk" PRIMARY KEY("city_id","id"),
	CONSTRAINT "stakeholder_relationships_type_check" CHECK (type IN ('collaboration', 'trust', 'referral', 'funding', 'communication')),
	CONSTRAINT "stakeholder_relationships_strength_check" CHECK ("stakeholder_relationships"."strength" BETWEEN 1 AND 5),
	CONSTRAINT "stakeholder_relationships_ends_check" CHECK ("stakeholder_relationships"."from_id" <> "stakeholder_relationships"."to_id"),
	CONSTRAINT "stakeholder_relationships_period_check" CHECK ("stakeholder_relationships"."until" IS NULL OR "stakeholder_relationships"."since" IS NULL OR "stakeholder_relationships"."until" >= "stakeholder_relationships"."since")
);
--> statement-breakpoint
CREATE TABLE "stakeholders" (
	"city_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"external_id" varchar(200),
	"kind" varchar(16) NOT NULL,
	"name" varchar(200) NOT NULL,
	"organization_id" uuid,
	"title" varchar(200),
	"category" varchar(32) NOT NULL,
	"leg" varchar(16) GENERATED ALWAYS AS (CASE category
  WHEN 'elected_official' THEN 'elected'
  WHEN 'city_staff' THEN 'city_staff' WHEN 'human_rights_commission' THEN 'city_staff'
  WHEN 'law_enforcement' THEN 'law_enforcement'
  WHEN 'federal_partner' THEN NULL WHEN 'other' THEN NULL
  ELSE 'community' END) STORED,
	"portfolio" varchar(200),
	"communities_served" text[] DEFAULT '{}'::text[] NOT NULL,
	"languages" text[] DEFAULT '{}'::text[] NOT NULL,
	"engagement_level" varchar(16) DEFAULT 'identified' NOT NULL,
	"leadership_role" varchar(16),
	"leadership_joined_on" date,
	"leadership_left_on" date,
	"existing_initiatives" text[] DEFAULT '{}'::text[] NOT NULL,
	"tags" text[] DEFAULT '{}'::text[] NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"personal_data" "bytea",
	"data_key" "bytea",
	"personal_data_erased_at" timestamp with time zone,
	"content_hash" char(64) NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"change_xid" bigint DEFAULT pg_current_xact_id()::text::bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "stakeholders_city_id_id_pk" PRIMARY KEY("city_id","id"),
	CONSTRAINT "stakeholders_kind_check" CHECK (kind IN ('person', 'organization')),
	CONSTRAINT "stakeholders_category_check" CHECK (category IN ('elected_official', 'city_staff', 'community_organization', 'law_enforcement', 'faith_community', 'education', 'social_services', 'public_health', 'academia', 'youth', 'human_rights_commission', 'federal_partner', 'business', 'media', 'other')),
	CONSTRAINT "stakeholders_engagement_check" CHECK (engagement_level IN ('identified', 'aware', 'engaged', 'active', 'leading')),
	CONSTRAINT "stakeholders_leadership_check" CHECK (leadership_role IS NULL OR leadership_role IN ('chair', 'co_chair', 'member', 'observer')),
	CONSTRAINT "stakeholders_organization_check" CHECK ("stakeholders"."organization_id" IS DISTINCT FROM "stakeholders"."id"),
	CONSTRAINT "stakeholders_personal_data_check" CHECK (("stakeholders"."personal_data" IS NULL) = ("stakeholders"."data_key" IS NULL))
);
--> statement-breakpoint
ALTER TABLE "incident_referrals" ADD CONSTRAINT "incident_referrals_city_id_incident_id_incidents_city_id_id_fk" FOREIGN KEY ("city_id","incident_id") REFERENCES "public"."incidents"("city_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "incident_referrals" ADD CONSTRAINT "incident_referrals_city_id_program_id_programs_city_id_id_fk" FOREIGN KEY ("city_id","program_id") REFERENCES "public"."programs"("city_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "incident_referrals" ADD CONSTRAINT "incident_referrals_city_id_stakeholder_id_stakeholders_city_id_id_fk" FOREIGN KEY ("city_id","stakeholder_id") REFERENCES "public"."stakeholders"("city_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "meeting_attendees" ADD CONSTRAINT "meeting_attendees_city_id_meeting_id_meetings_city_id_id_fk" FOREIGN KEY ("city_id","meeting_id") REFERENCES "public"."meetings"("city_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "meeting_attendees" ADD CONSTRAINT "meeting_attendees_city_id_stakeholder_id_stakeholders_city_id_id_fk" FOREIGN KEY ("city_id","stakeholder_id") REFERENCES "public"."stakeholders"("city_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "meetings" ADD CONSTRAINT "meetings_city_id_cities_id_fk" FOREIGN KEY ("city_id") REFERENCES "public"."cities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "programs" ADD CONSTRAINT "programs_city_id_cities_id_fk" FOREIGN KEY ("city_id") REFERENCES "public"."cities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "programs" ADD CONSTRAINT "programs_city_id_provider_id_stakeholders_city_id_id_fk" FOREIGN KEY ("city_id","provider_id") REFERENCES "public"."stakeholders"("city_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stakeholder_history" ADD CONSTRAINT "stakeholder_history_city_id_stakeholder_id_stakeholders_city_id_id_fk" FOREIGN KEY ("city_id","stakeholder_id") REFERENCES "public"."stakeholders"("city_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stakeholder_relationships" ADD CONSTRAINT "stakeholder_relationships_city_id_cities_id_fk" FOREIGN KEY ("city_id") REFERENCES "public"."cities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stakeholder_relationships" ADD CONSTRAINT "stakeholder_relationships_city_id_from_id_stakeholders_city_id_id_fk" FOREIGN KEY ("city_id","from_id") REFERENCES "public"."stakeholders"("city_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stakeholder_relationships" ADD CONSTRAINT "stakeholder_relationships_city_id_to_id_stakeholders_city_id_id_fk" FOREIGN KEY ("city_id","to_id") REFERENCES "public"."stakeholders"("city_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stakeholders" ADD CONSTRAINT "stakeholders_city_id_cities_id_fk" FOREIGN KEY ("city_id") REFERENCES "public"."cities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stakeholders" ADD CONSTRAINT "stakeholders_city_id_organization_id_stakeholders_city_id_id_fk" FOREIGN KEY ("city_id","organization_id") REFERENCES "public"."stakeholders"("city_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "incident_referrals_program_idx" ON "incident_referrals" USING btree ("city_id","program_id");--> statement-breakpoint
CREATE INDEX "incident_referrals_stakeholder_idx" ON "incident_referrals" USING btree ("city_id","stakeholder_id");--> statement-breakpoint
CREATE INDEX "meeting_attendees_stakeholder_idx" ON "meeting_attendees" USING btree ("city_id","stakeholder_id");--> statement-breakpoint
CREATE UNIQUE INDEX "meetings_external_id_idx" ON "meetings" USING btree ("city_id","external_id");--> statement-breakpoint
CREATE INDEX "meetings_held_on_idx" ON "meetings" USING btree ("city_id","held_on" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "meetings_change_feed_idx" ON "meetings" USING btree ("city_id","change_xid","id");--> statement-breakpoint
CREATE UNIQUE INDEX "programs_external_id_idx" ON "programs" USING btree ("city_id","external_id");--> statement-breakpoint
CREATE INDEX "programs_name_idx" ON "programs" USING btree ("city_id","name","id");--> statement-breakpoint
CREATE INDEX "programs_change_feed_idx" ON "programs" USING btree ("city_id","change_xid","id");--> statement-breakpoint
CREATE INDEX "programs_service_types_idx" ON "programs" USING gin ("service_types");--> statement-breakpoint
CREATE INDEX "programs_languages_idx" ON "programs" USING gin ("languages");--> statement-breakpoint
CREATE INDEX "programs_neighborhoods_idx" ON "programs" USING gin ("neighborhoods");--> statement-breakpoint
CREATE INDEX "stakeholder_history_as_of_idx" ON "stakeholder_history" USING btree ("city_id","recorded_on");--> statement-breakpoint
CREATE UNIQUE INDEX "stakeholder_relationships_external_id_idx" ON "stakeholder_relationships" USING btree ("city_id","external_id");--> statement-breakpoint
CREATE INDEX "stakeholder_relationships_from_idx" ON "stakeholder_relationships" USING btree ("city_id","from_id");--> statement-breakpoint
CREATE INDEX "stakeholder_relationships_to_idx" ON "stakeholder_relationships" USING btree ("city_id","to_id");--> statement-breakpoint
CREATE INDEX "stakeholder_relationships_change_feed_idx" ON "stakeholder_relationships" USING btree ("city_id","change_xid","id");--> statement-breakpoint
CREATE UNIQUE INDEX "stakeholders_external_id_idx" ON "stakeholders" USING btree ("city_id","external_id");--> statement-breakpoint
CREATE INDEX "stakeholders_name_idx" ON "stakeholders" USING btree ("city_id","name","id");--> statement-breakpoint
CREATE INDEX "stakeholders_category_idx" ON "stakeholders" USING btree ("city_id","category");--> statement-breakpoint
CREATE INDEX "stakeholders_leg_idx" ON "stakeholders" USING btree ("city_id","leg");--> statement-breakpoint
CREATE INDEX "stakeholders_change_feed_idx" ON "stakeholders" USING btree ("city_id","change_xid","id");--> statement-breakpoint
CREATE INDEX "stakeholders_tags_idx" ON "stakeholders" USING gin ("tags");--> statement-breakpoint
CREATE INDEX "stakeholders_languages_idx" ON "stakeholders" USING gin ("languages");--> statement-breakpoint
ALTER TABLE "incidents" DROP COLUMN "referrals";