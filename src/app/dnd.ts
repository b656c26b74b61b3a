/** The drag-and-drop payload type of a user chip: the user's id. */
export const USER_DRAG_TYPE = 'application/x-cib-user';

/** Accepts a drag only when it carries a user chip. */
export function carriesUser(event: DragEvent): boolean {
  return event.dataTransfer?.types.includes(USER_DRAG_TYPE) ?? false;
}

export function droppedUser(event: DragEvent): string | undefined {
  const id = event.dataTransfer?.getData(USER_DRAG_TYPE);
  return id ? id : undefined;
}
