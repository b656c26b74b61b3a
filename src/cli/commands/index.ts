import type { Command } from '../command.ts';

/** Every `cib` command, in the order `cib --help` lists them. */
export const commands: Command[] = [];
