-- One database per service.
CREATE DATABASE governance;
CREATE DATABASE budget;
CREATE DATABASE grants;
