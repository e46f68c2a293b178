CREATE TABLE "cities" (
	"id" uuid PRIMARY KEY NOT NULL,
	"slug" varchar(64) NOT NULL,
	"name" varchar(200) NOT NULL,
	"state" char(2),
	"population" integer,
	"timezone" varchar(64) DEFAULT 'America/New_York' NOT NULL,
	"default_language" varchar(35) DEFAULT 'en' NOT NULL,
	"languages" text[] DEFAULT '{en}'::text[] NOT NULL,
	"small_cell_threshold" integer DEFAULT 10 NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "cities_slug_unique" UNIQUE("slug"),
	CONSTRAINT "cities_small_cell_threshold_range" CHECK ("cities"."small_cell_threshold" BETWEEN 1 AND 100),
	CONSTRAINT "cities_population_range" CHECK ("cities"."population" >= 0)
);
--> statement-breakpoint
CREATE TABLE "api_keys" (
	"city_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"name" varchar(200) NOT NULL,
	"display_prefix" varchar(16) NOT NULL,
	"secret_hash" char(64) NOT NULL,
	"scopes" text[] NOT NULL,
	"sources" text[],
	"created_by_key_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone,
	"expires_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_keys_city_id_id_pk" PRIMARY KEY("city_id","id"),
	CONSTRAINT "api_keys_secret_hash_unique" UNIQUE("secret_hash")
);
--> statement-breakpoint
CREATE TABLE "audit_events" (
	"city_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"occurred_at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor_type" varchar(16) NOT NULL,
	"actor_key_id" uuid,
	"action" varchar(64) NOT NULL,
	"object_type" varchar(64) NOT NULL,
	"object_id" varchar(64) NOT NULL,
	"request_id" varchar(128),
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL,
	CONSTRAINT "audit_events_city_id_id_pk" PRIMARY KEY("city_id","id")
);
--> statement-breakpoint
CREATE TABLE "idempotency_keys" (
	"city_id" uuid NOT NULL,
	"api_key_id" uuid NOT NULL,
	"key" varchar(255) NOT NULL,
	"fingerprint" char(64) NOT NULL,
	"locked_until" timestamp with time zone,
	"response_status" integer,
	"response_headers" jsonb,
	"response_body" "bytea",
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "idempotency_keys_city_id_api_key_id_key_pk" PRIMARY KEY("city_id","api_key_id","key")
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_city_id_cities_id_fk" FOREIGN KEY ("city_id") REFERENCES "public"."cities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_city_id_created_by_key_id_api_keys_city_id_id_fk" FOREIGN KEY ("city_id","created_by_key_id") REFERENCES "public"."api_keys"("city_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "audit_events" ADD CONSTRAINT "audit_events_city_id_cities_id_fk" FOREIGN KEY ("city_id") REFERENCES "public"."cities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "audit_events" ADD CONSTRAINT "audit_events_city_id_actor_key_id_api_keys_city_id_id_fk" FOREIGN KEY ("city_id","actor_key_id") REFERENCES "public"."api_keys"("city_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD CONSTRAINT "idempotency_keys_city_id_api_key_id_api_keys_city_id_id_fk" FOREIGN KEY ("city_id","api_key_id") REFERENCES "public"."api_keys"("city_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_events_object_idx" ON "audit_events" USING btree ("city_id","object_type","object_id","id");--> statement-breakpoint
CREATE INDEX "idempotency_keys_expires_at_idx" ON "idempotency_keys" USING btree ("expires_at");