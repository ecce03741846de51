#!/usr/bin/env node
// dom0: the control plane (DESIGN.md, "The four services").
import { runService } from '@splitvisor/runtime';
import { dom0Service } from './service.js';

await runService(dom0Service);
