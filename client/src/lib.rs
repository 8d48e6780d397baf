//! `sts-client`: the std layer of libsts.
