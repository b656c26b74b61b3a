import type { Command } from '../command.ts';

export interface CommandEntry {
  name: string;
  summary: string;
  /** The command's module is loaded only when it runs, so `cib --help` touches little code. */
  load(): Promise<Command>;
}

/** Every `cib` command, in the order `cib --help` lists them. */
export const commands: CommandEntry[] = [
  {
    name: 'keygen',
    summary: 'generate an RSA key pair as Seattle key strings',
    load: async () => (await import('./keygen.ts')).keygenCommand,
  },
  {
    name: 'vesselinfo',
    summary: 'print the vesselinfo for a build configuration (JSON)',
    load: async () => (await import('./vesselinfo.ts')).vesselinfoCommand,
  },
  {
    name: 'check-vesselinfo',
    summary: 'check a vesselinfo file as the node would',
    load: async () => (await import('./check-vesselinfo.ts')).checkVesselinfoCommand,
  },
  {
    name: 'assemble-source',
    summary: "assemble make-base's source tree from clones of Seattle's repositories",
    load: async () => (await import('./assemble-source.ts')).assembleSourceCommand,
  },
  {
    name: 'make-base',
    summary: 'build the base installers and manifest.json from a source tree',
    load: async () => (await import('./make-base.ts')).makeBaseCommand,
  },
  {
    name: 'prepare-base',
    summary: 'make tgz base installers append-ready and write their manifest.json',
    load: async () => (await import('./prepare-base.ts')).prepareBaseCommand,
  },
  {
    name: 'customize',
    summary: 'write a custom installer from a base installer and a build configuration',
    load: async () => (await import('./customize.ts')).customizeCommand,
  },
  {
    name: 'inspect',
    summary:
      'show the vessels an installer will create, and whether its Seattle software is signed',
    load: async () => (await import('./inspect.ts')).inspectCommand,
  },
  {
    name: 'prune-builds',
    summary: "delete the server's build records older than an age",
    load: async () => (await import('./prune-builds.ts')).pruneBuildsCommand,
  },
];
