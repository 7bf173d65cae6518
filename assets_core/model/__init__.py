"""What a project declares: keys, asset specs and kinds, the decorator, the graph, validation,
``Definitions`` and finding and importing a project. Values only: no state, no storage IO."""
