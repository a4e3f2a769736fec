# Python 2 habits: raw_input() is a NameError in Python 3, before any prompt.
import sys
from socket import *
clientSocket = socket(AF_INET, SOCK_STREAM)
clientSocket.connect((sys.argv[1], int(sys.argv[2])))
sentence = raw_input('Input lowercase sentence:')
clientSocket.send(sentence.encode())
print(clientSocket.recv(1024).decode())
clientSocket.close()
