DROP TABLE cards;
DROP TABLE members;
