import type { Command } from '../command.ts';
import { checkVesselinfoCommand } from './check-vesselinfo.ts';
import { customizeCommand } from './customize.ts';
import { inspectCommand } from './inspect.ts';
import { keygenCommand } from './keygen.ts';
import { makeBaseCommand } from './make-base.ts';
import { prepareBaseCommand } from './prepare-base.ts';
import { pruneBuildsCommand } from './prune-builds.ts';
import { vesselinfoCommand } from './vesselinfo.ts';

/** Every `cib` command, in the order `cib --help` lists them. */
export const commands: Command[] = [
  keygenCommand,
  vesselinfoCommand,
  checkVesselinfoCommand,
  makeBaseCommand,
  prepareBaseCommand,
  customizeCommand,
  inspectCommand,
  pruneBuildsCommand,
];
