#!/usr/bin/env node
// cpu: the vCPU executor (DESIGN.md, "The four services").
import { runService } from '@splitvisor/runtime';
import { cpuService } from './service.js';

await runService(cpuService);
