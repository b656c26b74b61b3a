import { describe, expect, it } from 'vitest';
import { extractedPath, sameExtractedPath } from '../../src/core/archive/paths.ts';

const VESSELINFO = 'seattle/seattle_repy/vesselinfo';

describe('extractedPath', () => {
  it.each([
    ['seattle/./seattle_repy/vesselinfo', 'tar'],
    ['seattle//seattle_repy/vesselinfo', 'tar'],
    ['./seattle/seattle_repy/vesselinfo', 'tar'],
    ['/seattle/seattle_repy/vesselinfo', 'tar'],
    ['Seattle/Seattle_repy/VesselInfo', 'tar'],
    ['seattle\\seattle_repy\\vesselinfo', 'zip'],
    ['.\\seattle/seattle_repy\\.\\vesselinfo', 'zip'],
  ] as const)('maps %s (%s) onto the vesselinfo path', (name, style) => {
    expect(extractedPath(name, style)).toBe(VESSELINFO);
  });

  it('keeps a backslash as part of a tar name, as GNU tar does', () => {
    expect(extractedPath('seattle\\seattle_repy\\vesselinfo', 'tar')).not.toBe(VESSELINFO);
  });

  it('keeps .. so a path outside the folder never matches one inside it', () => {
    expect(sameExtractedPath('seattle/x/../seattle_repy/vesselinfo', VESSELINFO, 'tar')).toBe(
      false,
    );
  });
});
