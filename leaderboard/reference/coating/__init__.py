"""The paper's practical application: a coating-material funnel (thermodynamics first, then Li-ion
percolation barriers of the survivors), built on pymatgen's phase-diagram tools."""
from litraj_data.leaderboard.reference.coating.entries import read_entries
from litraj_data.leaderboard.reference.coating.funnel import (
                                                              CoatingCriteria,
                                                              interface_reaction_energy,
                                                              screen_coatings,
                                                              stability_window,
)

__all__ = ["CoatingCriteria", "read_entries", "screen_coatings", "stability_window", "interface_reaction_energy"]
