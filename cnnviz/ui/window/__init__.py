"""The window itself: the main window and its workspaces, the document it shows, undo commands,
opening and saving files, settings and error reporting."""
