//! The control-plane wire: typed request and response bodies shared by the node's agent, the
//! control-plane server and the CLI client.
