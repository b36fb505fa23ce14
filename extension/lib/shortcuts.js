// Keyboard shortcuts (the manifest's `commands`) as the popup lists them; no chrome.* here.

// The commands, in the order the popup lists them; their keys are the user's (the browser's
// shortcut settings), so the popup reads them with chrome.commands.getAll.
export const COMMAND_NAMES = ["sharpen-all", "sharpen-region"];

/** [{name, description, shortcut}] from chrome.commands.getAll -> [{name, label, keys}], keys null when unset. */
export function listShortcuts(commands) {
  const byName = new Map(commands.map((command) => [command.name, command]));
  return COMMAND_NAMES.filter((name) => byName.has(name)).map((name) => {
    const { description, shortcut } = byName.get(name);
    return { name, label: description, keys: shortcut || null };
  });
}
