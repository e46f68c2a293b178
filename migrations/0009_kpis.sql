CREATE TABLE "kpi_measurements" (
	"city_id" uuid NOT NULL,
	"kpi_id" uuid NOT NULL,
	"period" varchar(7) NOT NULL,
	"period_start" date NOT NULL,
	"value" numeric NOT NULL,
	"numerator" numeric,
	"denominator" numeric,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "kpi_measurements_city_id_kpi_id_period_pk" PRIMARY KEY("city_id","kpi_id","period"),
	CONSTRAINT "kpi_measurements_period_check" CHECK ("kpi_measurements"."period" ~ '^[0-9]{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$')
);
--> statement-breakpoint
CREATE TABLE "kpis" (
	"city_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"code" varchar(64) NOT NULL,
	"name" jsonb NOT NULL,
	"description" jsonb,
	"unit" varchar(16) NOT NULL,
	"direction" varchar(16) NOT NULL,
	"period" varchar(16) NOT NULL,
	"baseline_value" numeric,
	"baseline_period" varchar(7),
	"targets" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"method" varchar(16) NOT NULL,
	"metric" varchar(64),
	"parameters" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "kpis_city_id_id_pk" PRIMARY KEY("city_id","id"),
	CONSTRAINT "kpis_unit_check" CHECK (unit IN ('count', 'percent', 'rate_per_100k', 'currency', 'score', 'days')),
	CONSTRAINT "kpis_direction_check" CHECK (direction IN ('increase', 'decrease')),
	CONSTRAINT "kpis_period_check" CHECK (period IN ('month', 'quarter', 'year')),
	CONSTRAINT "kpis_method_check" CHECK (method IN ('manual', 'computed')),
	CONSTRAINT "kpis_metric_check" CHECK (("kpis"."method" = 'computed') = ("kpis"."metric" IS NOT NULL)),
	CONSTRAINT "kpis_baseline_check" CHECK (("kpis"."baseline_value" IS NULL) = ("kpis"."baseline_period" IS NULL))
);
--> statement-breakpoint
ALTER TABLE "kpi_measurements" ADD CONSTRAINT "kpi_measurements_city_id_kpi_id_kpis_city_id_id_fk" FOREIGN KEY ("city_id","kpi_id") REFERENCES "public"."kpis"("city_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "kpis" ADD CONSTRAINT "kpis_city_id_cities_id_fk" FOREIGN KEY ("city_id") REFERENCES "public"."cities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "kpis_code_idx" ON "kpis" USING btree ("city_id","code");--> statement-breakpoint
CREATE INDEX "incidents_statistics_idx" ON "incidents" USING btree ("city_id","occurred_on","incident_type","status","is_online") WHERE "incidents"."include_in_statistics" AND "incidents"."resolution" IS DISTINCT FROM 'duplicate' AND "incidents"."resolution" IS DISTINCT FROM 'unfounded';