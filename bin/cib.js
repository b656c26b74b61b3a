#!/usr/bin/env node
// The `cib` bin: runs the TypeScript command line through tsx's loader.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
