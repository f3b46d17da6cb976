// The ten sections of the comprehensive memory test, in order (reference section 6.2 for 1–7,
// test_shutdown for 9, spillover_test and real_world_test for 10; 8 is the seed document's own).

import { coreSection } from "./s01-core.js";
import { tsdEvtSection } from "./s02-tsd-evt.js";
import { statisticsSection } from "./s03-statistics.js";
import { tieredSection } from "./s04-tiered.js";
import { diskUsageSection } from "./s05-disk-usage.js";
import { stressEdgeSection } from "./s06-stress-edge.js";
import { performanceSection } from "./s07-performance.js";
import { cleanupSection } from "./s08-cleanup.js";
import { shutdownSection } from "./s09-shutdown.js";
import { spilloverSection } from "./s10-spillover.js";
import type { Section } from "./section.js";

export const SECTIONS: readonly Section[] = [
  coreSection,
  tsdEvtSection,
  statisticsSection,
  tieredSection,
  diskUsageSection,
  stressEdgeSection,
  performanceSection,
  cleanupSection,
  shutdownSection,
  spilloverSection,
];

export const SECTION_COUNT = SECTIONS.length;

export type { Section, SectionRun, PerformanceMetric } from "./section.js";
