#!/usr/bin/env node
// paradec is written in TypeScript and runs through tsx's loader, so the CLI needs no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
