CREATE TABLE "action_plans" (
	"city_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"external_id" varchar(200),
	"title" varchar(300) NOT NULL,
	"vision" text,
	"period_start" date,
	"period_end" date,
	"status" varchar(16) DEFAULT 'draft' NOT NULL,
	"adopted_on" date,
	"currency" char(3) NOT NULL,
	"content_hash" char(64) NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"change_xid" bigint DEFAULT pg_current_xact_id()::text::bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "action_plans_city_id_id_pk" PRIMARY KEY("city_id","id"),
	CONSTRAINT "action_plans_status_check" CHECK (status IN ('draft', 'adopted', 'active', 'completed', 'archived')),
	CONSTRAINT "action_plans_currency_check" CHECK ("action_plans"."currency" ~ '^[A-Z]{3}$'),
	CONSTRAINT "action_plans_period_check" CHECK ("action_plans"."period_end" IS NULL OR "action_plans"."period_start" IS NULL OR "action_plans"."period_end" >= "action_plans"."period_start")
);
--> statement-breakpoint
CREATE TABLE "action_updates" (
	"city_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"action_id" uuid NOT NULL,
	"recorded_on" date NOT NULL,
	"status" varchar(16) NOT NULL,
	"progress" smallint NOT NULL,
	"text" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "action_updates_city_id_id_pk" PRIMARY KEY("city_id","id"),
	CONSTRAINT "action_updates_status_check" CHECK (status IN ('not_started', 'on_track', 'at_risk', 'off_track', 'completed', 'cancelled')),
	CONSTRAINT "action_updates_progress_check" CHECK ("action_updates"."progress" BETWEEN 0 AND 100)
);
--> statement-breakpoint
CREATE TABLE "actions" (
	"city_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"plan_id" uuid NOT NULL,
	"objective_id" uuid NOT NULL,
	"external_id" varchar(200),
	"position" integer,
	"title" varchar(300) NOT NULL,
	"description" text,
	"owner_id" uuid,
	"partner_ids" uuid[] DEFAULT '{}'::uuid[] NOT NULL,
	"program_ids" uuid[] DEFAULT '{}'::uuid[] NOT NULL,
	"horizon" varchar(16),
	"start_on" date,
	"due_on" date,
	"status" varchar(16) DEFAULT 'not_started' NOT NULL,
	"progress" smallint DEFAULT 0 NOT NULL,
	"budget_amount" bigint,
	"budget_currency" char(3),
	"funding" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"content_hash" char(64) NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"change_xid" bigint DEFAULT pg_current_xact_id()::text::bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "actions_city_id_id_pk" PRIMARY KEY("city_id","id"),
	CONSTRAINT "actions_status_check" CHECK (status IN ('not_started', 'on_track', 'at_risk', 'off_track', 'completed', 'cancelled')),
	CONSTRAINT "actions_horizon_check" CHECK (horizon IS NULL OR horizon IN ('near_term', 'medium_term', 'long_term')),
	CONSTRAINT "actions_progress_check" CHECK ("actions"."progress" BETWEEN 0 AND 100),
	CONSTRAINT "actions_budget_check" CHECK (("actions"."budget_amount" IS NULL) = ("actions"."budget_currency" IS NULL) AND ("actions"."budget_amount" IS NULL OR "actions"."budget_amount" >= 0)),
	CONSTRAINT "actions_dates_check" CHECK ("actions"."due_on" IS NULL OR "actions"."start_on" IS NULL OR "actions"."due_on" >= "actions"."start_on"),
	CONSTRAINT "actions_funding_check" CHECK (jsonb_typeof("actions"."funding") = 'array')
);
--> statement-breakpoint
CREATE TABLE "goals" (
	"city_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"plan_id" uuid NOT NULL,
	"external_id" varchar(200),
	"position" integer,
	"title" varchar(300) NOT NULL,
	"description" text,
	"content_hash" char(64) NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"change_xid" bigint DEFAULT pg_current_xact_id()::text::bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "goals_city_id_id_pk" PRIMARY KEY("city_id","id"),
	CONSTRAINT "goals_plan_id_key" UNIQUE("city_id","plan_id","id")
);
--> statement-breakpoint
CREATE TABLE "objectives" (
	"city_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"plan_id" uuid NOT NULL,
	"goal_id" uuid NOT NULL,
	"external_id" varchar(200),
	"position" integer,
	"title" varchar(300) NOT NULL,
	"description" text,
	"content_hash" char(64) NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"change_xid" bigint DEFAULT pg_current_xact_id()::text::bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "objectives_city_id_id_pk" PRIMARY KEY("city_id","id"),
	CONSTRAINT "objectives_plan_id_key" UNIQUE("city_id","plan_id","id")
);
--> statement-breakpoint
ALTER TABLE "action_plans" ADD CONSTRAINT "action_plans_city_id_cities_id_fk" FOREIGN KEY ("city_id") REFERENCES "public"."cities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "action_updates" ADD CONSTRAINT "action_updates_city_id_action_id_actions_city_id_id_fk" FOREIGN KEY ("city_id","action_id") REFERENCES "public"."actions"("city_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "actions" ADD CONSTRAINT "actions_city_id_plan_id_objective_id_objectives_city_id_plan_id_id_fk" FOREIGN KEY ("city_id","plan_id","objective_id") REFERENCES "public"."objectives"("city_id","plan_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "actions" ADD CONSTRAINT "actions_city_id_owner_id_stakeholders_city_id_id_fk" FOREIGN KEY ("city_id","owner_id") REFERENCES "public"."stakeholders"("city_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "goals" ADD CONSTRAINT "goals_city_id_plan_id_action_plans_city_id_id_fk" FOREIGN KEY ("city_id","plan_id") REFERENCES "public"."action_plans"("city_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "objectives" ADD CONSTRAINT "objectives_city_id_plan_id_goal_id_goals_city_id_plan_id_id_fk" FOREIGN KEY ("city_id","plan_id","goal_id") REFERENCES "public"."goals"("city_id","plan_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "action_plans_external_id_idx" ON "action_plans" USING btree ("city_id","external_id");--> statement-breakpoint
CREATE INDEX "action_plans_change_feed_idx" ON "action_plans" USING btree ("city_id","change_xid","id");--> statement-breakpoint
CREATE INDEX "action_updates_action_idx" ON "action_updates" USING btree ("city_id","action_id","recorded_on","id");--> statement-breakpoint
CREATE UNIQUE INDEX "actions_external_id_idx" ON "actions" USING btree ("city_id","plan_id","external_id");--> statement-breakpoint
CREATE INDEX "actions_plan_idx" ON "actions" USING btree ("city_id","plan_id","id");--> statement-breakpoint
CREATE INDEX "actions_objective_idx" ON "actions" USING btree ("city_id","objective_id");--> statement-breakpoint
CREATE INDEX "actions_owner_idx" ON "actions" USING btree ("city_id","owner_id");--> statement-breakpoint
CREATE INDEX "actions_due_idx" ON "actions" USING btree ("city_id","due_on");--> statement-breakpoint
CREATE INDEX "actions_change_feed_idx" ON "actions" USING btree ("city_id","change_xid","id");--> statement-breakpoint
CREATE INDEX "actions_partner_ids_idx" ON "actions" USING gin ("partner_ids");--> statement-breakpoint
CREATE INDEX "actions_program_ids_idx" ON "actions" USING gin ("program_ids");--> statement-breakpoint
CREATE UNIQUE INDEX "goals_external_id_idx" ON "goals" USING btree ("city_id","plan_id","external_id");--> statement-breakpoint
CREATE INDEX "goals_change_feed_idx" ON "goals" USING btree ("city_id","change_xid","id");--> statement-breakpoint
CREATE UNIQUE INDEX "objectives_external_id_idx" ON "objectives" USING btree ("city_id","plan_id","external_id");--> statement-breakpoint
CREATE INDEX "objectives_goal_idx" ON "objectives" USING btree ("city_id","goal_id");--> statement-breakpoint
CREATE INDEX "objectives_change_feed_idx" ON "objectives" USING btree ("city_id","change_xid","id");