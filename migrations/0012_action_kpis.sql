ALTER TABLE "actions" ADD COLUMN "kpi_ids" uuid[] DEFAULT '{}'::uuid[] NOT NULL;--> statement-breakpoint
CREATE INDEX "actions_kpi_ids_idx" ON "actions" USING gin ("kpi_ids");