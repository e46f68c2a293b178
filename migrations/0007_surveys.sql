CREATE TABLE "survey_answers" (
	"city_id" uuid NOT NULL,
	"survey_id" uuid NOT NULL,
	"response_id" uuid NOT NULL,
	"question_code" varchar(64) NOT NULL,
	"option_code" varchar(64) DEFAULT '' NOT NULL,
	"value" numeric,
	"position" smallint DEFAULT 0 NOT NULL,
	CONSTRAINT "survey_answers_city_id_survey_id_response_id_question_code_option_code_pk" PRIMARY KEY("city_id","survey_id","response_id","question_code","option_code")
);
--> statement-breakpoint
CREATE TABLE "survey_responses" (
	"city_id" uuid NOT NULL,
	"survey_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"external_id" varchar(200),
	"language" varchar(35) NOT NULL,
	"channel" varchar(16) DEFAULT 'portal' NOT NULL,
	"filled_on" date NOT NULL,
	"submitted_at" timestamp with time zone DEFAULT now() NOT NULL,
	"personal_data" "bytea",
	"data_key" "bytea",
	"personal_data_erased_at" timestamp with time zone,
	"content_hash" char(64) NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "survey_responses_city_id_survey_id_id_pk" PRIMARY KEY("city_id","survey_id","id"),
	CONSTRAINT "survey_responses_channel_check" CHECK ("survey_responses"."channel" IN ('portal', 'paper')),
	CONSTRAINT "survey_responses_personal_data_check" CHECK (("survey_responses"."personal_data" IS NULL) = ("survey_responses"."data_key" IS NULL))
);
--> statement-breakpoint
CREATE TABLE "surveys" (
	"city_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"external_id" varchar(200),
	"title" jsonb NOT NULL,
	"description" jsonb,
	"languages" text[] NOT NULL,
	"default_language" varchar(35) NOT NULL,
	"status" varchar(16) DEFAULT 'draft' NOT NULL,
	"opens_at" timestamp with time zone,
	"closes_at" timestamp with time zone,
	"anonymous" boolean DEFAULT true NOT NULL,
	"questions" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"copied_from" uuid,
	"content_hash" char(64) NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"change_xid" bigint DEFAULT pg_current_xact_id()::text::bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "surveys_city_id_id_pk" PRIMARY KEY("city_id","id"),
	CONSTRAINT "surveys_status_check" CHECK (status IN ('draft', 'open', 'closed', 'archived')),
	CONSTRAINT "surveys_period_check" CHECK ("surveys"."closes_at" IS NULL OR "surveys"."opens_at" IS NULL OR "surveys"."closes_at" > "surveys"."opens_at")
);
--> statement-breakpoint
ALTER TABLE "survey_answers" ADD CONSTRAINT "survey_answers_city_id_survey_id_response_id_survey_responses_city_id_survey_id_id_fk" FOREIGN KEY ("city_id","survey_id","response_id") REFERENCES "public"."survey_responses"("city_id","survey_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "survey_responses" ADD CONSTRAINT "survey_responses_city_id_survey_id_surveys_city_id_id_fk" FOREIGN KEY ("city_id","survey_id") REFERENCES "public"."surveys"("city_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "surveys" ADD CONSTRAINT "surveys_city_id_cities_id_fk" FOREIGN KEY ("city_id") REFERENCES "public"."cities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "surveys" ADD CONSTRAINT "surveys_city_id_copied_from_surveys_city_id_id_fk" FOREIGN KEY ("city_id","copied_from") REFERENCES "public"."surveys"("city_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "survey_answers_results_idx" ON "survey_answers" USING btree ("city_id","survey_id","question_code","option_code");--> statement-breakpoint
CREATE UNIQUE INDEX "survey_responses_external_id_idx" ON "survey_responses" USING btree ("city_id","survey_id","external_id");--> statement-breakpoint
CREATE INDEX "survey_responses_list_idx" ON "survey_responses" USING btree ("city_id","survey_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "surveys_external_id_idx" ON "surveys" USING btree ("city_id","external_id");--> statement-breakpoint
CREATE INDEX "surveys_status_idx" ON "surveys" USING btree ("city_id","status","id");--> statement-breakpoint
CREATE INDEX "surveys_change_feed_idx" ON "surveys" USING btree ("city_id","change_xid","id");