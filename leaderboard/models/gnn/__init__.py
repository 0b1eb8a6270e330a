"""GNNs trained from scratch on LiTraj tasks (M3GNet via matgl, NequIP, Allegro)."""
