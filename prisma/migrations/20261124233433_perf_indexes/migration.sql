-- Issue 6 (performance), found by bench/scaling_bench.py: the unfiltered session list sorted every
-- session for each page, and each archive batch sorted every COMPLETED session by endTime.

-- CreateIndex
CREATE INDEX "Session_startTime_id_idx" ON "Session"("startTime", "id");

-- CreateIndex
CREATE INDEX "Session_status_endTime_idx" ON "Session"("status", "endTime");
